{{ config(enabled=('shopify' in teiki_sources())) }}

with

raw_customers as (

    select * from {{ source('raw_shopify', 'customers') }}

),

-- ISO 3166-2:JP codes -> 都道府県 (Shopify gives provinceCode JP-01..JP-47 for Japan).
prefectures(code, name) as (

    values
        ('JP-01', '北海道'), ('JP-02', '青森県'), ('JP-03', '岩手県'), ('JP-04', '宮城県'),
        ('JP-05', '秋田県'), ('JP-06', '山形県'), ('JP-07', '福島県'), ('JP-08', '茨城県'),
        ('JP-09', '栃木県'), ('JP-10', '群馬県'), ('JP-11', '埼玉県'), ('JP-12', '千葉県'),
        ('JP-13', '東京都'), ('JP-14', '神奈川県'), ('JP-15', '新潟県'), ('JP-16', '富山県'),
        ('JP-17', '石川県'), ('JP-18', '福井県'), ('JP-19', '山梨県'), ('JP-20', '長野県'),
        ('JP-21', '岐阜県'), ('JP-22', '静岡県'), ('JP-23', '愛知県'), ('JP-24', '三重県'),
        ('JP-25', '滋賀県'), ('JP-26', '京都府'), ('JP-27', '大阪府'), ('JP-28', '兵庫県'),
        ('JP-29', '奈良県'), ('JP-30', '和歌山県'), ('JP-31', '鳥取県'), ('JP-32', '島根県'),
        ('JP-33', '岡山県'), ('JP-34', '広島県'), ('JP-35', '山口県'), ('JP-36', '徳島県'),
        ('JP-37', '香川県'), ('JP-38', '愛媛県'), ('JP-39', '高知県'), ('JP-40', '福岡県'),
        ('JP-41', '佐賀県'), ('JP-42', '長崎県'), ('JP-43', '熊本県'), ('JP-44', '大分県'),
        ('JP-45', '宮崎県'), ('JP-46', '鹿児島県'), ('JP-47', '沖縄県')

),

renamed as (

    select
        raw_customers._source as source,
        cast(raw_customers.id as varchar) as customer_id,
        raw_customers._record ->> '$.lastName' as last_name,
        raw_customers._record ->> '$.firstName' as first_name,
        cast(null as varchar) as last_name_kana,
        cast(null as varchar) as first_name_kana,
        raw_customers._record ->> '$.defaultEmailAddress.emailAddress' as email,
        raw_customers._record ->> '$.defaultPhoneNumber.phoneNumber' as phone,
        raw_customers._record ->> '$.defaultAddress.zip' as postal_code,
        coalesce(
            prefectures.name,
            nullif(raw_customers._record ->> '$.defaultAddress.province', '')
        ) as prefecture,
        -- the connector's query asks for zip and province only (connectors/shopify/queries.py)
        cast(null as varchar) as address1,
        cast(null as varchar) as address2,
        cast(null as date) as birthday,
        cast(null as varchar) as gender,
        cast(null as varchar) as gender_label,
        (raw_customers._record ->> '$.defaultEmailAddress.marketingState') = 'SUBSCRIBED'
            as email_opt_in,
        cast(null as boolean) as line_opt_in,
        cast(null as varchar) as line_user_id,
        cast(null as boolean) as dm_opt_in,
        cast(null as boolean) as phone_opt_in,
        cast(null as varchar) as acquisition_channel,
        cast(null as varchar) as acquisition_channel_label,
        cast(raw_customers._record ->> '$.createdAt' as timestamptz) at time zone 'UTC' as created_at,
        raw_customers.updated_at,
        raw_customers._loaded_at as loaded_at,
        -- Shopify only
        raw_customers._record ->> '$.state' as shopify_state,
        cast(raw_customers._record -> '$.tags' as varchar[]) as shopify_tags

    from raw_customers
    left join prefectures
        on prefectures.code = raw_customers._record ->> '$.defaultAddress.provinceCode'

)

select * from renamed
