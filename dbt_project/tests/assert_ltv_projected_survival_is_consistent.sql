{#- sBG survival starts at 1 and never rises with the delivery number; DERL is positive. -#}
select *
from (
    select
        *,
        lag(projected_survival) over (partition by source, product_id order by delivery_number) as previous_survival
    from {{ ref('ltv_projected') }}
)
where (delivery_number = 1 and abs(projected_survival - 1) > 1e-9)
    or projected_survival > previous_survival + 1e-12
    or derl_revenue <= 0
    or del_revenue <= 0
