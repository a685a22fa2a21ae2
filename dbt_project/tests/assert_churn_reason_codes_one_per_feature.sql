{#- One reason row per model feature, so a score's reason is never ambiguous. (Rows for reasons
    outside the model, feature '(none)' or '(repeat_buyer)', may share their feature.) -#}
select feature, count(*) as reason_rows
from {{ ref('churn_reason_codes') }}
where feature like 'f\_%' escape '\'
group by feature
having count(*) > 1
