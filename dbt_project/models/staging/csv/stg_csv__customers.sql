{{ config(enabled=('csv' in teiki_sources())) }}

with

raw_customers as (

    select * from {{ source('raw_csv', 'customers') }}
    -- live rows only: a full-snapshot export that no longer holds a record marks it deleted
    where _deleted_at is null

),

renamed as (

    select
        _source as source,
        customer_id,
        last_name,
        first_name,
        last_name_kana,
        first_name_kana,
        email,
        phone,
        postal_code,
        prefecture,
        address1,
        address2,
        cast(birthday as date) as birthday,
        {{ label_code('gender', 'raw_customers.gender') }} as gender,
        gender as gender_label,
        email_opt_in,
        line_opt_in,
        line_user_id,
        dm_opt_in,
        phone_opt_in,
        {{ label_code('acquisition_channel', 'raw_customers.acquisition_channel') }} as acquisition_channel,
        acquisition_channel as acquisition_channel_label,
        cast(created_at as timestamp) as created_at,
        cast(updated_at as timestamp) as updated_at,
        _loaded_at as loaded_at

    from raw_customers

)

select * from renamed
