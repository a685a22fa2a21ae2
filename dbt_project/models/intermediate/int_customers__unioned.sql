with

unioned as (

    {{ union_staging('customers') }}

),

final as (

    select
        source,
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
        birthday,
        gender,
        gender_label,
        email_opt_in,
        line_opt_in,
        line_user_id,
        dm_opt_in,
        phone_opt_in,
        acquisition_channel,
        acquisition_channel_label,
        created_at,
        {{ jst_date('created_at') }} as registered_date,
        updated_at

    from unioned

)

select * from final
