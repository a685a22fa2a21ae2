{{ config(enabled=('colorme' in teiki_sources())) }}

{#- カラーミーショップ customers (顧客) in the canonical shape of stg_csv__customers. The name
    and its furigana come as one field each ("姓 名"); they are split on the first space
    (half- or full-width). Phone: tel_mobile, else tel. Opt-ins other than the mail magazine and
    the acquisition channel are not in the API (NULL). Deleted customers are left out. -#}

with

raw_customers as (

    select
        *,
        trim(replace(_record->>'name', '　', ' ')) as full_name,
        trim(replace(_record->>'furigana', '　', ' ')) as full_kana
    from {{ source('raw_colorme', 'customers') }}
    where deleted_at is null

),

renamed as (

    select
        _source as source,
        cast(id as varchar) as customer_id,
        nullif(split_part(full_name, ' ', 1), '') as last_name,
        nullif(trim(substr(full_name, length(split_part(full_name, ' ', 1)) + 2)), '') as first_name,
        nullif(split_part(full_kana, ' ', 1), '') as last_name_kana,
        nullif(trim(substr(full_kana, length(split_part(full_kana, ' ', 1)) + 2)), '') as first_name_kana,
        nullif(_record->>'mail', '') as email,
        coalesce(nullif(_record->>'tel_mobile', ''), nullif(_record->>'tel', '')) as phone,
        nullif(_record->>'postal', '') as postal_code,
        nullif(_record->>'pref_name', '') as prefecture,
        nullif(trim(_record->>'address1'), '') as address1,
        nullif(trim(_record->>'address2'), '') as address2,
        try_cast(_record->>'birthday' as date) as birthday,
        case _record->>'sex' when 'female' then 'female' when 'male' then 'male' end as gender,
        _record->>'sex' as gender_label,
        try_cast(_record->>'receive_mail_magazine' as boolean) as email_opt_in,
        cast(null as boolean) as line_opt_in,
        cast(null as varchar) as line_user_id,
        cast(null as boolean) as dm_opt_in,
        cast(null as boolean) as phone_opt_in,
        cast(null as varchar) as acquisition_channel,
        cast(null as varchar) as acquisition_channel_label,
        make_timestamp(try_cast(_record->>'make_date' as bigint) * 1000000) as created_at,
        updated_at,
        _loaded_at as loaded_at

    from raw_customers

)

select * from renamed
