"""Serializers for users and authentication."""

from rest_framework import serializers

from .models import User

EMAIL_MAX_LENGTH = User._meta.get_field("email").max_length
FULL_NAME_MAX_LENGTH = User._meta.get_field("full_name").max_length

PASSWORD_MAX_LENGTH = 128
# Django's tokens are ~40 characters and uids a few; anything longer is not ours.
TOKEN_MAX_LENGTH = 200


def password_field(**kwargs) -> serializers.CharField:
    return serializers.CharField(
        write_only=True,
        max_length=PASSWORD_MAX_LENGTH,
        trim_whitespace=False,
        style={"input_type": "password"},
        **kwargs,
    )


class UserSummarySerializer(serializers.ModelSerializer):
    """How a user appears inside other resources: `{id, email, full_name}`."""

    class Meta:
        model = User
        fields = ("id", "email", "full_name")
        read_only_fields = fields


class RegisterSerializer(serializers.Serializer):
    email = serializers.EmailField(max_length=EMAIL_MAX_LENGTH)
    password = password_field()
    full_name = serializers.CharField(
        max_length=FULL_NAME_MAX_LENGTH, required=False, allow_blank=True, default=""
    )


class LoginSerializer(serializers.Serializer):
    email = serializers.EmailField(max_length=EMAIL_MAX_LENGTH)
    password = password_field()


class TokenSerializer(serializers.Serializer):
    token = serializers.CharField(read_only=True)
    expires_at = serializers.DateTimeField(read_only=True, allow_null=True)


class DetailSerializer(serializers.Serializer):
    """`{detail}`: what happened, for answers that carry no resource."""

    detail = serializers.CharField(read_only=True)


class EmailLinkSerializer(serializers.Serializer):
    """The two parts of an emailed link: `uid` and `token`."""

    uid = serializers.CharField(max_length=TOKEN_MAX_LENGTH)
    token = serializers.CharField(max_length=TOKEN_MAX_LENGTH)


class EmailVerifySerializer(EmailLinkSerializer):
    """The verification link's parts, and the password chosen at sign-up."""

    password = password_field()


class PasswordResetSerializer(serializers.Serializer):
    email = serializers.EmailField(max_length=EMAIL_MAX_LENGTH)


class PasswordResetConfirmSerializer(EmailLinkSerializer):
    new_password = password_field()


class PasswordChangeSerializer(serializers.Serializer):
    current_password = password_field()
    new_password = password_field()
