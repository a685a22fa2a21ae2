{#- The contact columns every audience model carries, in the contract's order, from
    marts.customers (aliased `customers` in the model): names and addresses the templates and
    channels use, and the consent the contact policy reads (NULL = unknown, kept: the policy
    treats it as no). One definition, so the nine audiences cannot drift apart. -#}
{% macro audience_contact_columns(customers='customers') -%}
        {%- for column in ['full_name', 'email', 'line_user_id', 'phone', 'postal_code', 'prefecture',
                           'email_opt_in', 'line_opt_in', 'dm_opt_in', 'phone_opt_in'] %}
        {{ customers }}.{{ column }},
        {%- endfor %}
{%- endmacro %}
