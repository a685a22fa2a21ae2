{{ config(enabled=('recharge' in teiki_sources())) }}

{#- Recharge customers in the canonical customer shape (same columns as stg_csv__customers).
    Recharge keeps names, email and phone; prefecture, birthday, opt-ins and the acquisition
    channel live in the shop and are NULL here. customer_id is the Recharge id. Records deleted
    at Recharge (deleted_at set) are left out.

    On a Shopify shop (shopify in TEIKI_SOURCES) a Recharge customer linked to a Shopify customer
    (external_customer_id.ecommerce, Recharge 2021-11 customer object:
    https://storefront.getrecharge.com/client/docs/types/interfaces/Customer) is that Shopify
    customer, whose record is the fuller one: it is left out here, and its subscriptions and
    charges carry the Shopify customer id (stg_recharge__subscriptions, stg_recharge__payments).
    Keeping it would add a second member record per person whose unknown consent would override
    the shop's (marts.customers takes the strictest consent). Only unlinked customers remain. -#}

{%- set on_shop = 'shopify' in teiki_sources() %}

with

raw_customers as (

    select * from {{ source('raw_recharge', 'customers') }}
    where deleted_at is null
    {%- if on_shop %}
        and nullif(_record->'external_customer_id'->>'ecommerce', '') is null
    {%- endif %}

),

renamed as (

    select
        _source as source,
        cast(id as varchar) as customer_id,
        nullif(_record->>'last_name', '') as last_name,
        nullif(_record->>'first_name', '') as first_name,
        cast(null as varchar) as last_name_kana,
        cast(null as varchar) as first_name_kana,
        nullif(_record->>'email', '') as email,
        nullif(_record->>'phone', '') as phone,
        cast(null as varchar) as postal_code,
        cast(null as varchar) as prefecture,
        cast(null as varchar) as address1,
        cast(null as varchar) as address2,
        cast(null as date) as birthday,
        cast(null as varchar) as gender,
        cast(null as varchar) as gender_label,
        cast(null as boolean) as email_opt_in,
        cast(null as boolean) as line_opt_in,
        cast(null as varchar) as line_user_id,
        cast(null as boolean) as dm_opt_in,
        cast(null as boolean) as phone_opt_in,
        cast(null as varchar) as acquisition_channel,
        cast(null as varchar) as acquisition_channel_label,
        {{ iso8601_utc("_record->>'created_at'") }} as created_at,
        updated_at,
        _loaded_at as loaded_at

    from raw_customers

)

select * from renamed
