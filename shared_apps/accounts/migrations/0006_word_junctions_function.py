"""public.word_junctions(text): where the words of a text meet, for the phrase search's index
(tenant_apps/tasks: `tasks_title_junctions`), created once per database like pg_trgm (0003),
so public is migrated with it before any tenant schema builds the index on it.

For each two neighbouring words (split on single spaces; empty words count, as a double space
in the text and in a searched phrase split alike) it gives four elements, the end of the first
word and the start of the second at 3 or 5 characters each, tagged with those lengths:
"FIX LOGIN" gives 33:FIX LOG, 35:FIX LOGIN, 53:FIX LOG and 55:FIX LOGIN (a shorter word is
taken whole). A phrase's junction is one of these whatever longer words its first and last
words are parts of, which is what lets a GIN index look it up (tenant_apps/tasks/filters.py).

Generic text processing: it knows no table. IMMUTABLE, as an index expression must be (it
reads nothing but its argument). So never change its body in place: every organization's index
holds the elements of the old one, and a search with the new one would miss rows; a new rule
needs a new function and new indexes. Rolling this migration back needs the organizations'
`tasks 0013` rolled back first (their indexes depend on the function), as with pg_trgm (0003). PL/pgSQL: about five times faster, over 100,000 titles by
hand, than the same as one SQL statement (which unnests and aggregates for every title).
"""

from django.db import migrations

FORWARD = """
CREATE OR REPLACE FUNCTION public.word_junctions(text) RETURNS text[]
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
DECLARE
    words text[] := string_to_array($1, ' ');
    junctions text[] := '{}';
    end3 text; end5 text; start3 text; start5 text;
BEGIN
    FOR i IN 1 .. coalesce(cardinality(words), 0) - 1 LOOP
        end3 := right(words[i], 3);
        end5 := right(words[i], 5);
        start3 := left(words[i + 1], 3);
        start5 := left(words[i + 1], 5);
        junctions := junctions || ARRAY[
            '33:' || end3 || ' ' || start3, '35:' || end3 || ' ' || start5,
            '53:' || end5 || ' ' || start3, '55:' || end5 || ' ' || start5];
    END LOOP;
    RETURN junctions;
END
$$;
"""

BACKWARD = "DROP FUNCTION IF EXISTS public.word_junctions(text);"


class Migration(migrations.Migration):
    dependencies = [("accounts", "0005_users_never_deleted")]

    operations = [migrations.RunSQL(FORWARD, reverse_sql=BACKWARD)]
