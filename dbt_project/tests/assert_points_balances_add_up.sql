{#- points_balances: the expiring amounts are nested parts of the balance, and the balance is at
    most what was granted less what was used and recorded as expired (less, by the grants past
    their 有効期限 whose 失効 the cart has not written yet). -#}
select *
from {{ ref('points_balances') }}
where points_expiring_30d > points_expiring_60d
    or points_expiring_60d > points_balance
    or points_balance > granted_points_total - used_points_total - expired_points_total
    or (next_expiry_date is not null and next_expiry_points > points_balance)
