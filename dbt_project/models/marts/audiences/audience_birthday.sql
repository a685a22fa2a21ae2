{#- Audience: birthday greetings. Customers with a 生年月日 on file and at least one revenue order
    (a buyer, not a bare registration). The clock is the days from the contact day
    (as_of_date + 1) to the next birthday on or after it, 0 = the birthday is the contact day;
    a 29 February birthday falls on 28 February in common years, so it stays in its 誕生月.
    DECISIONLOG.md "Audiences: who each campaign may reach". -#}

{%- set contact_day = '(' ~ as_of_date() ~ ' + 1)' -%}

with

customers as (

    select * from {{ ref('customers') }}
    where birthday is not null
        and order_count >= 1

),

-- The birthday in the contact day's year and in the next one, 29 Feb moved to the month's last day.
occurrences as (

    select
        customers.*,
        make_date(
            year({{ contact_day }}) + years.year_offset,
            month(birthday),
            least(day(birthday), day(last_day(make_date(year({{ contact_day }}) + years.year_offset, month(birthday), 1))))
        ) as occurrence_date

    from customers
    cross join (values (0), (1)) as years(year_offset)

),

next_birthdays as (

    select
        customer_key,
        min(occurrence_date) as next_birthday_date

    from occurrences
    where occurrence_date >= {{ contact_day }}
    group by customer_key

),

final as (

    select
        customers.customer_key,
        customers.source,
        customers.customer_id,
        cast(null as varchar) as subscription_id,
        {{ audience_contact_columns() }}
        cast(coalesce(customers.lifetime_revenue, 0) as double) as priority_score,
        {{ as_of_date() }} as as_of_date,
        -- clock
        cast(date_diff('day', {{ contact_day }}, next_birthdays.next_birthday_date) as integer)
            as days_until_birthday,
        -- template variables
        next_birthdays.next_birthday_date,
        cast(month(customers.birthday) as integer) as birthday_month,
        cast(year(next_birthdays.next_birthday_date) - year(customers.birthday) as integer) as age_next_birthday,
        customers.is_subscriber

    from customers
    inner join next_birthdays
        on next_birthdays.customer_key = customers.customer_key

)

select * from final
