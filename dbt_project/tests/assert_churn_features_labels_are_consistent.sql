{#- Labels exist only on training rows (opportunity, checkpoint) and only with their resolution
    date, which is never before the snapshot nor after as_of_date; training rows lie on or before
    as_of_date and current rows the day after it; a checkpoint lies strictly before its outcome. A row here means the label could leak or lie. -#}
select
    source,
    subscription_id,
    snapshot_kind,
    snapshot_date,
    label_cancelled,
    label_resolved_date
from {{ ref('int_subscriptions__churn_features') }}
where (snapshot_kind = 'current' and (label_cancelled is not null or snapshot_date <> {{ as_of_date() }} + 1))
    or (snapshot_kind in ('opportunity', 'checkpoint') and snapshot_date > {{ as_of_date() }})
    or (snapshot_kind = 'checkpoint' and label_resolved_date <= snapshot_date)
    or ((label_cancelled is null) <> (label_resolved_date is null))
    or label_resolved_date < snapshot_date
    or label_resolved_date > {{ as_of_date() }}
    or delivery_number < 0
    or (snapshot_kind in ('opportunity', 'checkpoint') and delivery_number < 1)
