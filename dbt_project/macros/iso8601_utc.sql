{#- ISO 8601 text with or without a UTC offset ("2026-11-23T10:00:00+09:00", "...-05:00", or
    none = already UTC) -> naive UTC timestamp, computed without ICU (DuckDB's ICU extension is
    not guaranteed offline). Recharge sends such text. -#}
{%- macro iso8601_utc(text) -%}
    (try_cast(left({{ text }}, 19) as timestamp)
        - case when regexp_matches({{ text }}, '[+-][0-9]{2}:[0-9]{2}$')
            then to_minutes((case when substr({{ text }}, -6, 1) = '-' then -1 else 1 end)
                * (cast(substr({{ text }}, -5, 2) as bigint) * 60 + cast(substr({{ text }}, -2, 2) as bigint)))
            else to_minutes(0) end)
{%- endmacro -%}
