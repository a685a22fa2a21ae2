{#- The contact policy's stable draw in SQL (orchestration/actions/contact_policy.py _unit_hash):
    the first 8 bytes of sha256(salt + U+001F + key), big-endian, over 2^64, a double in [0, 1).
    tests/dbt_project/macros/test_stable_unit_hash.py checks it equals Python's for sample keys. -#}
{% macro stable_unit_hash(salt, key_sql) -%}
    (cast(cast(('0x' || substr(sha256('{{ salt }}' || chr(31) || {{ key_sql }}), 1, 16)) as ubigint) as double)
        / 18446744073709551616.0)
{%- endmacro %}
