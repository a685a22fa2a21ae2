{#- Canonical code for a cart's Japanese enumerated label, looked up in the label_codes seed.
    One seed holds every domain so that onboarding a cart with other wording is a CSV edit, not
    SQL. An empty cell stays NULL (the cart said nothing); a label the seed does not know becomes
    'unknown' rather than NULL, so it is visible and the warn-level `label_is_known` test lists it.
    Pass a qualified column (alias.column): the lookup subquery has its own domain/label/code. -#}
{% macro label_code(domain, column) -%}
    case
        when nullif(trim({{ column }}), '') is null then null
        else coalesce(
            (
                select label_codes.code
                from {{ ref('label_codes') }} as label_codes
                where label_codes.domain = '{{ domain }}'
                    and label_codes.label = trim({{ column }})
            ),
            'unknown'
        )
    end
{%- endmacro %}
