{#- Which sources feed the warehouse, and how their staging models become the canonical entities.

    The sources are the environment variable TEIKI_SOURCES (comma-separated, default "csv"),
    which Teiki derives from what is configured (orchestration/settings.py: the CSV export folder
    or the demo merchant, and every cart API whose credentials are set) and hands to every dbt
    invocation, `dbt parse` included. A source not listed has its staging models and raw sources
    disabled, so they are neither in the manifest nor in Dagster's graph.

    Schema YAML cannot call macros, so the raw sources' `enabled` reads the same variable
    directly: "{{ '<name>' in env_var('TEIKI_SOURCES', 'csv').split(',') }}". -#}

{% macro teiki_sources() -%}
    {%- set known = staging_models() -%}
    {%- set names = [] -%}
    {%- for raw_name in env_var('TEIKI_SOURCES', 'csv').split(',') -%}
        {%- set name = raw_name | trim | lower -%}
        {%- if name and name not in names -%}
            {%- if name not in known -%}
                {{ exceptions.raise_compiler_error(
                    "TEIKI_SOURCES names the source '" ~ name ~ "', which has no staging models; known: "
                    ~ (known.keys() | sort | join(', '))) }}
            {%- endif -%}
            {%- do names.append(name) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(names) }}
{%- endmacro %}


{#- The canonical entities each source has a staging model for (models/staging/<source>/
    stg_<source>__<entity>.sql). dbt's graph is empty while it parses, so this cannot be looked
    up; tests/connectors/test_staging_union.py checks it against the files. A source lacking an
    entity simply has no model for it: union_staging skips it. -#}
{% macro staging_models() -%}
    {{ return({
        'csv': ['customers', 'products', 'orders', 'order_lines', 'subscriptions',
                'subscription_events', 'payments', 'inquiries', 'web_events', 'point_events'],
        'shopify': ['customers', 'products', 'orders', 'order_lines'],
        'recharge': ['customers', 'subscriptions', 'payments'],
        'colorme': ['customers', 'products', 'orders', 'order_lines'],
    }) }}
{%- endmacro %}


{#- The canonical staging shape of each entity: the columns every stg_<source>__<entity> carries
    (a source may add its own after them). Used for the empty relation of an entity no configured
    source has (e.g. inquiries for a Shopify + Recharge shop), so the intermediate models and marts
    build unchanged; the staging test checks it against stg_csv__*, the reference shape. -#}
{% macro canonical_columns(entity) -%}
    {%- set shapes = {
        'customers': [
            ('source', 'varchar'), ('customer_id', 'varchar'), ('last_name', 'varchar'),
            ('first_name', 'varchar'), ('last_name_kana', 'varchar'), ('first_name_kana', 'varchar'),
            ('email', 'varchar'), ('phone', 'varchar'), ('postal_code', 'varchar'),
            ('prefecture', 'varchar'), ('address1', 'varchar'), ('address2', 'varchar'),
            ('birthday', 'date'), ('gender', 'varchar'),
            ('gender_label', 'varchar'), ('email_opt_in', 'boolean'), ('line_opt_in', 'boolean'),
            ('line_user_id', 'varchar'), ('dm_opt_in', 'boolean'), ('phone_opt_in', 'boolean'),
            ('acquisition_channel', 'varchar'), ('acquisition_channel_label', 'varchar'),
            ('created_at', 'timestamp'), ('updated_at', 'timestamp'), ('loaded_at', 'timestamp')],
        'products': [
            ('source', 'varchar'), ('product_id', 'varchar'), ('product_name', 'varchar'),
            ('category', 'varchar'), ('price', 'bigint'), ('first_delivery_price', 'bigint'),
            ('is_subscription', 'boolean'), ('cycle_days', 'integer'), ('unit_cost', 'bigint'),
            ('created_at', 'timestamp'), ('updated_at', 'timestamp'), ('loaded_at', 'timestamp')],
        'orders': [
            ('source', 'varchar'), ('order_id', 'varchar'), ('customer_id', 'varchar'),
            ('subscription_id', 'varchar'), ('delivery_number', 'integer'),
            ('ordered_at', 'timestamp'), ('status', 'varchar'), ('status_label', 'varchar'),
            ('payment_method', 'varchar'), ('payment_method_label', 'varchar'),
            ('subtotal', 'bigint'), ('shipping_fee', 'bigint'), ('discount', 'bigint'),
            ('total', 'bigint'), ('shipped_on', 'date'), ('updated_at', 'timestamp'),
            ('loaded_at', 'timestamp')],
        'order_lines': [
            ('source', 'varchar'), ('order_id', 'varchar'), ('line_number', 'integer'),
            ('product_id', 'varchar'), ('quantity', 'integer'), ('unit_price', 'bigint'),
            ('discount', 'bigint'), ('line_total', 'bigint'), ('updated_at', 'timestamp'),
            ('loaded_at', 'timestamp')],
        'subscriptions': [
            ('source', 'varchar'), ('subscription_id', 'varchar'), ('customer_id', 'varchar'),
            ('product_id', 'varchar'), ('quantity', 'integer'), ('cycle_days', 'integer'),
            ('status', 'varchar'), ('status_label', 'varchar'), ('started_at', 'timestamp'),
            ('cancelled_at', 'timestamp'), ('cancel_reason', 'varchar'),
            ('next_delivery_date', 'date'), ('delivery_count', 'integer'),
            ('skip_count', 'integer'), ('updated_at', 'timestamp'), ('loaded_at', 'timestamp')],
        'subscription_events': [
            ('source', 'varchar'), ('subscription_event_id', 'varchar'),
            ('subscription_id', 'varchar'), ('occurred_at', 'timestamp'),
            ('event_type', 'varchar'), ('event_type_label', 'varchar'),
            ('before_value', 'varchar'), ('after_value', 'varchar'), ('reason', 'varchar'),
            ('channel', 'varchar'), ('channel_label', 'varchar'), ('loaded_at', 'timestamp')],
        'payments': [
            ('source', 'varchar'), ('payment_id', 'varchar'), ('order_id', 'varchar'),
            ('customer_id', 'varchar'), ('payment_method', 'varchar'),
            ('payment_method_label', 'varchar'), ('attempted_at', 'timestamp'),
            ('amount', 'bigint'), ('result', 'varchar'), ('result_label', 'varchar'),
            ('failure_reason', 'varchar'), ('failure_reason_label', 'varchar'),
            ('loaded_at', 'timestamp')],
        'inquiries': [
            ('source', 'varchar'), ('inquiry_id', 'varchar'), ('customer_id', 'varchar'),
            ('created_at', 'timestamp'), ('channel', 'varchar'), ('channel_label', 'varchar'),
            ('category', 'varchar'), ('category_label', 'varchar'), ('agent', 'varchar'),
            ('outcome', 'varchar'), ('outcome_label', 'varchar'), ('loaded_at', 'timestamp')],
        'web_events': [
            ('source', 'varchar'), ('web_event_id', 'varchar'), ('customer_id', 'varchar'),
            ('visited_at', 'timestamp'), ('url', 'varchar'), ('url_path', 'varchar'),
            ('page_type', 'varchar'), ('referrer', 'varchar'), ('loaded_at', 'timestamp')],
        'point_events': [
            ('source', 'varchar'), ('point_event_id', 'varchar'), ('customer_id', 'varchar'),
            ('occurred_at', 'timestamp'), ('event_type', 'varchar'),
            ('event_type_label', 'varchar'), ('points', 'bigint'), ('points_delta', 'bigint'),
            ('expires_on', 'date'), ('order_id', 'varchar'), ('loaded_at', 'timestamp')],
    } -%}
    {%- if entity not in shapes -%}
        {{ exceptions.raise_compiler_error("union_staging: unknown canonical entity '" ~ entity ~ "'") }}
    {%- endif -%}
    {{ return(shapes[entity]) }}
{%- endmacro %}


{#- Canonical entity rows from every configured source: the union of stg_<source>__<entity> over
    the sources in teiki_sources() that have that entity; none of them -> no rows, in the
    canonical shape. Adding a cart means writing its staging models for the entities it has,
    listing them in staging_models() and in TEIKI_SOURCES' derivation; no intermediate model
    changes. BY NAME tolerates a source that lacks an optional column (it reads as NULL). -#}
{% macro union_staging(entity) -%}
    {%- set available = staging_models() -%}
    {%- set providers = [] -%}
    {%- for source_name in teiki_sources() -%}
        {%- if entity in available[source_name] -%}
            {%- do providers.append(source_name) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- set columns = canonical_columns(entity) -%}
    {%- if providers | length == 0 %}
    -- no configured source has {{ entity }}
    select
        {%- for name, type in columns %}
        cast(null as {{ type }}) as {{ name }}{{ "," if not loop.last }}
        {%- endfor %}
    where false
    {%- else -%}
    {%- for source_name in providers %}
    select * from {{ ref('stg_' ~ source_name ~ '__' ~ entity) }}
    {%- if not loop.last %}
    union all by name
    {%- endif %}
    {%- endfor %}
    {%- endif %}
{%- endmacro %}
