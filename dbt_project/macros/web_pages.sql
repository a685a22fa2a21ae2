{#- Page-type rules for web events, in one place. First matching rule wins, so specific paths
    (the 定期 cancel page under /mypage) come before their parents. Patterns are regular
    expressions on the normalized path (see url_path). A merchant whose cart uses other URLs
    overrides the var `page_type_rules` (declared empty in dbt_project.yml; set it in the settings file's dbt_vars) with the same [page_type, regex] shape;
    the page types themselves are a fixed vocabulary that marts and tests rely on. -#}
{% macro default_page_type_rules() -%}
    {{ return([
        ['cancel', '^/mypage/teiki/cancel(/|$)'],
        ['faq', '^/faq(/|$)'],
        ['contact', '^/contact(/|$)'],
        ['mypage', '^/mypage(/|$)'],
        ['product', '^/products/[^/]+'],
        ['top', '^/(index\\.html?)?$'],
    ]) }}
{%- endmacro %}

{#- Path of a URL: scheme, host, query string and fragment removed, lower-cased, without a
    trailing slash (the site root stays '/'), so rules need not repeat every spelling. -#}
{% macro url_path(url) -%}
    '/' || rtrim(lower(regexp_extract({{ url }}, '^(?:[A-Za-z][A-Za-z0-9+.-]*://[^/?#]*)?/*([^?#]*)', 1)), '/')
{%- endmacro %}

{% macro page_type(path) -%}
    {%- set rules = var('page_type_rules') or default_page_type_rules() -%}
    case
        {%- for rule in rules %}
        when regexp_matches({{ path }}, '{{ rule[1] }}') then '{{ rule[0] }}'
        {%- endfor %}
        else 'other'
    end
{%- endmacro %}
