"""Every route of a URLconf, read from Django's resolver, with the methods it answers and a
concrete URL for it: the sweeps cover an endpoint added later without being edited."""

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from django.urls import URLPattern, URLResolver, get_resolver, resolve
from django.urls.resolvers import RegexPattern, RoutePattern

from saas.api.views import api_not_found

PUBLIC_URLCONF = "saas.urls_public"
TENANT_URLCONF = "saas.urls_tenants"

METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")

# Values for path parameters other than object ids (the sweeps give ids themselves).
PLACEHOLDERS = {
    "uidb64": "MQ",
    "token": "not-a-real-token",
    "object_id": "1",
    "id": "1",
    "content_type_id": "1",
    "url": "nowhere/",
}


@dataclass(frozen=True)
class Route:
    """One URL pattern as the resolver flattens it."""

    urlconf: str
    route: str  # what ResolverMatch.route says for it, e.g. "api/tasks/(?P<pk>[0-9]+)/$"
    name: str | None
    callback: Callable
    parts: tuple  # the pattern objects from the URLconf's root down to this one

    @property
    def view_class(self):
        return getattr(self.callback, "cls", None) or getattr(self.callback, "view_class", None)

    @property
    def actions(self) -> dict[str, str]:
        """A viewset route's {method: action}; empty for other views."""
        return {m.upper(): a for m, a in (getattr(self.callback, "actions", None) or {}).items()}

    @property
    def is_api_not_found(self) -> bool:
        return self.callback is api_not_found

    @property
    def parameters(self) -> set[str]:
        found = set()
        for part in self.parts:
            found |= set(re.findall(r"\(\?P<(\w+)>", str(part)))
            found |= set(re.findall(r"<(?:\w+:)?(\w+)>", str(part)))
        return found

    def methods(self) -> frozenset[str] | None:
        """The HTTP methods the view has a handler for (HEAD with GET; OPTIONS on every DRF
        view); None when the view is a plain function that decides for itself."""
        if self.actions:
            methods = set(self.actions)
        elif self.view_class is not None:
            methods = {
                m.upper() for m in self.view_class.http_method_names if hasattr(self.view_class, m)
            }
        else:
            return None
        if "GET" in methods:
            methods.add("HEAD")
        if self.view_class is not None and hasattr(self.view_class, "options"):
            methods.add("OPTIONS")
        return frozenset(methods)

    @property
    def model(self):
        """The model a detail route's `pk` names (its serializer's), or None."""
        serializer = getattr(self.view_class, "serializer_class", None)
        meta = getattr(serializer, "Meta", None)
        return getattr(meta, "model", None)

    def path(self, values: dict[str, str] | None = None) -> str:
        """A concrete path that resolves to this route, path parameters from `values` (then
        PLACEHOLDERS)."""
        values = {**PLACEHOLDERS, **(values or {})}
        path = "/" + "".join(_concrete(part, values) for part in self.parts)
        match = resolve(path, self.urlconf)
        if match.route != self.route:
            raise AssertionError(
                f"{path} resolves to {match.route!r}, not {self.route!r}: teach "
                "tests/security/routes.py this pattern's syntax"
            )
        return path


def _concrete(pattern, values: dict[str, str]) -> str:
    """One pattern of the chain as literal text."""
    if isinstance(pattern, RoutePattern):
        return re.sub(r"<(?:\w+:)?(\w+)>", lambda m: str(values[m.group(1)]), pattern._route)
    assert isinstance(pattern, RegexPattern), pattern
    text = pattern._regex.removeprefix("^").removesuffix("$")

    def group(match):
        name, body = match.group(1), match.group(2)
        if re.fullmatch(r"[\w-]+(\|[\w-]+)*", body):  # alternatives: the first
            return body.split("|")[0]
        return str(values[name])

    text = re.sub(r"\(\?P<(\w+)>([^)]*)\)", group, text)
    # (?:a|b) -> a; (?:/|$) -> /
    text = re.sub(r"\(\?:([^|)]*)(\|[^)]*)?\)", lambda m: m.group(1), text)
    return text.replace("$", "")


def routes(urlconf: str) -> list[Route]:
    """Every URL pattern of `urlconf`, includes flattened, in resolution order."""
    return list(_walk(get_resolver(urlconf).url_patterns, urlconf, ()))


def _walk(patterns, urlconf: str, parents: tuple) -> Iterator[Route]:
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _walk(pattern.url_patterns, urlconf, (*parents, pattern.pattern))
        else:
            assert isinstance(pattern, URLPattern)
            chain = (*parents, pattern.pattern)
            route = ""
            for part in chain:  # as URLResolver._join_route joins them
                route = route + str(part).removeprefix("^") if route else str(part)
            yield Route(
                urlconf=urlconf,
                route=route,
                name=pattern.name,
                callback=pattern.callback,
                parts=chain,
            )
