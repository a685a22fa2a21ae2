{#- Page-type rules for web events, in one place. First matching rule wins, so specific paths
    (the 定期 cancel page under /mypage) come before their parents. Patterns are regular
    expressions on the normalized path (see url_path). These are the demo cart's paths: a cart
    with other URLs gives its page types in its CSV profile (a page_type column with `rules`,
    read from the URL), and staging prefers the export's page type over these rules; the page
    types themselves are a fixed vocabulary that marts and tests rely on. -#}
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
    {%- set rules = default_page_type_rules() -%}
    case
        {%- for rule in rules %}
        when regexp_matches({{ path }}, '{{ rule[1] }}') then '{{ rule[0] }}'
        {%- endfor %}
        else 'other'
    end
{%- endmacro %}
