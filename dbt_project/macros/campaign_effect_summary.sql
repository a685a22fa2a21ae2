{#- Treatment against holdout for the first contact of each customer in each campaign
    (int_campaign_contacts__outcomes, is_first_contact), grouped by campaign and the columns in
    `by` (e.g. the send month): the body of campaign_effects and campaign_effects_by_cohort.

    Continuation rates over the customers whose outcome is observed; absolute uplift with a 95%
    normal-approximation CI (unpooled SE, sqrt(p_t q_t / n_t + p_h q_h / n_h)); two-sided p-value
    of the pooled two-proportion z test (macros/normal_cdf.sql); minimum detectable effect at the
    current sizes, (1.96 + 0.8416) x SE (80% power, alpha 0.05). DECISIONLOG.md "Campaign effects". -#}
{% macro campaign_effect_summary(by=[]) -%}
{%- set min_n = var('effect_min_observed_per_arm') -%}
{%- set meaningful = var('effect_meaningful_uplift') -%}
{%- set group_cols = ['campaign'] + by -%}

with

contacts as (

    select * from {{ ref('int_campaign_contacts__outcomes') }}
    where is_first_contact

),

counts as (

    select
        {%- for col in group_cols %}
        {{ col }},
        {%- endfor %}
        min(action_date) as first_action_date,
        max(action_date) as last_action_date,
        string_agg(distinct outcome_kind, ', ' order by outcome_kind) as outcome_kinds,
        count(*) filter (where arm = 'treatment') as treated_customers,
        count(*) filter (where arm = 'holdout') as holdout_customers,
        count(*) filter (where arm = 'treatment' and status in ('sent', 'already_sent')) as treated_sent_live,
        count(*) filter (where arm = 'treatment' and accepted_at is not null) as treated_accepted,
        count(*) filter (where arm = 'treatment' and outcome_observed) as treated_observed,
        count(*) filter (where arm = 'holdout' and outcome_observed) as holdout_observed,
        count(*) filter (where arm = 'treatment' and outcome_observed and continued) as treated_continued,
        count(*) filter (where arm = 'holdout' and outcome_observed and continued) as holdout_continued,
        count(*) filter (where arm = 'treatment' and revenue_90d_observed) as treated_revenue_observed,
        count(*) filter (where arm = 'holdout' and revenue_90d_observed) as holdout_revenue_observed,
        avg(revenue_90d) filter (where arm = 'treatment' and revenue_90d_observed) as treated_revenue_90d_per_customer,
        avg(revenue_90d) filter (where arm = 'holdout' and revenue_90d_observed) as holdout_revenue_90d_per_customer,
        coalesce(avg(offer_cost_yen) filter (where arm = 'treatment'), 0) as offer_cost_per_treated_yen

    from contacts
    group by all

),

rates as (

    select
        *,
        treated_continued / nullif(treated_observed, 0) as treated_continuation_rate,
        holdout_continued / nullif(holdout_observed, 0) as holdout_continuation_rate,
        (treated_continued + holdout_continued) / nullif(treated_observed + holdout_observed, 0) as pooled_rate

    from counts

),

tests as (

    select
        *,
        treated_continuation_rate - holdout_continuation_rate as uplift,
        sqrt(treated_continuation_rate * (1 - treated_continuation_rate) / treated_observed
             + holdout_continuation_rate * (1 - holdout_continuation_rate) / holdout_observed) as uplift_se,
        sqrt(pooled_rate * (1 - pooled_rate) * (1.0 / treated_observed + 1.0 / holdout_observed)) as pooled_se

    from rates

),

final as (

    select
        {%- for col in group_cols %}
        {{ col }},
        {%- endfor %}
        first_action_date,
        last_action_date,
        outcome_kinds,
        cast(treated_customers as integer) as treated_customers,
        cast(holdout_customers as integer) as holdout_customers,
        cast(treated_sent_live as integer) as treated_sent_live,
        cast(treated_accepted as integer) as treated_accepted,
        cast(treated_observed as integer) as treated_observed,
        cast(holdout_observed as integer) as holdout_observed,
        cast(treated_continued as integer) as treated_continued,
        cast(holdout_continued as integer) as holdout_continued,
        treated_continuation_rate,
        holdout_continuation_rate,
        uplift,
        uplift_se,
        uplift - 1.959963985 * uplift_se as uplift_ci_low,
        uplift + 1.959963985 * uplift_se as uplift_ci_high,
        case when pooled_se > 0 then
            2 * (1 - {{ normal_cdf('abs(uplift) / pooled_se') }})
        end as p_value,
        (1.959963985 + 0.841621234) * uplift_se as minimum_detectable_effect,
        case
            when least(treated_observed, holdout_observed) < {{ min_n }}
                or uplift_se is null
                or (1.959963985 + 0.841621234) * uplift_se > {{ meaningful }}
                then 'too early to tell'
            when pooled_se > 0 and 2 * (1 - {{ normal_cdf('abs(uplift) / pooled_se') }}) < 0.05
                then case when uplift > 0 then 'helps' else 'harms' end
            else 'no detectable effect'
        end as verdict,
        cast(treated_revenue_observed as integer) as treated_revenue_observed,
        cast(holdout_revenue_observed as integer) as holdout_revenue_observed,
        cast(treated_revenue_90d_per_customer as double) as treated_revenue_90d_per_customer,
        cast(holdout_revenue_90d_per_customer as double) as holdout_revenue_90d_per_customer,
        cast(treated_revenue_90d_per_customer - holdout_revenue_90d_per_customer as double)
            as revenue_90d_difference_per_customer,
        cast(offer_cost_per_treated_yen as double) as offer_cost_per_treated_yen,
        {{ as_of_date() }} as as_of_date

    from tests

)

select * from final
{%- endmacro %}
