{{ config(enabled=('csv' in teiki_sources())) }}

{#- The cart's ポイント履歴 (raw stream `points`, optional: empty when the cart exports none).
    Carts write the amount of a 利用 / 失効 signed (-120) or not (120): `points` is the amount
    and `points_delta` its effect on the balance, signed by the event type, whatever the export
    did. An unknown 区分 (code 'unknown') has no delta (NULL), so it changes no balance. -#}

with

raw_points as (

    select * from {{ source('raw_csv', 'points') }}
    -- live rows only: a full-snapshot export that no longer holds a record marks it deleted
    where _deleted_at is null

),

renamed as (

    select
        _source as source,
        point_event_id,
        customer_id,
        cast(occurred_at as timestamp) as occurred_at,
        {{ label_code('point_event_type', 'raw_points.event_type') }} as event_type,
        event_type as event_type_label,
        cast(abs(points) as bigint) as points,
        expires_on,
        order_id,
        _loaded_at as loaded_at

    from raw_points

),

final as (

    select
        source,
        point_event_id,
        customer_id,
        occurred_at,
        event_type,
        event_type_label,
        points,
        cast(case event_type
            when 'grant' then points
            when 'use' then -points
            when 'expire' then -points
        end as bigint) as points_delta,
        cast(expires_on as date) as expires_on,
        order_id,
        loaded_at

    from renamed

)

select * from final
