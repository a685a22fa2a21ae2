{#- Completed years of age on a date (a birthday on 2/29 counts from 3/1 in common years).
    date_diff('year', ...) counts calendar-year boundaries, which overstates age before the
    birthday, so compare month-day instead. -#}
{% macro age_in_years(birthday, on_date) -%}
    (
        year({{ on_date }}) - year({{ birthday }})
        - case when strftime({{ on_date }}, '%m%d') < strftime({{ birthday }}, '%m%d') then 1 else 0 end
    )
{%- endmacro %}

{#- Email as an identity key: trimmed and lower-cased; NULL unless it looks like an address, so
    placeholders ("なし", "-", "noemail") never merge unrelated customers. -#}
{% macro normalized_email(email) -%}
    case
        when regexp_matches(lower(trim({{ email }})), '^[^@\s]+@[^@\s]+\.[^@\s]+$')
            then lower(trim({{ email }}))
    end
{%- endmacro %}

{#- Phone as an identity key: digits only (full-width digits folded, +81 turned into a leading
    0); NULL unless it is a plausible Japanese number (10-11 digits starting with 0, not all
    zeros), so placeholders like 000-0000-0000 never merge customers. -#}
{% macro normalized_phone(phone) -%}
    {%- set digits -%}
        regexp_replace(translate({{ phone }}, '０１２３４５６７８９', '0123456789'), '[^0-9]', '', 'g')
    {%- endset -%}
    {%- set domestic -%}
        case
            when {{ digits }} like '81%' and length({{ digits }}) in (11, 12)
                then '0' || substr({{ digits }}, 3)
            else {{ digits }}
        end
    {%- endset -%}
    case
        when regexp_matches({{ domestic }}, '^0[0-9]{9,10}$') and not regexp_matches({{ domestic }}, '^0+$')
            then {{ domestic }}
    end
{%- endmacro %}


{#- A full postal address for postal DM: 郵便番号, 都道府県 and 住所1 (市区町村 + 番地) all known
    (住所2, the building, is often rightly empty). `record` is the alias of a customer record. -#}
{% macro has_postal_address(record) -%}
    (nullif(trim({{ record }}.postal_code), '') is not null
        and nullif(trim({{ record }}.prefecture), '') is not null
        and nullif(trim({{ record }}.address1), '') is not null)
{%- endmacro %}
