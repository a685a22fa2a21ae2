{#- The payment methods and inquiry categories the 解約予兆 features count, shared by the
    counting model (int_customers__churn_state_at_snapshot) and the f_ columns of
    int_subscriptions__churn_features, so both always agree on the list. -#}

{% macro churn_payment_methods() -%}
    {{ return(['card', 'deferred', 'convenience_store', 'cash_on_delivery']) }}
{%- endmacro %}

{#- Inquiry categories worth a feature of their own (feature name: category); every other
    category counts as "other". -#}
{% macro churn_inquiry_features() -%}
    {{ return({
        'cancellation': 'cancellation_request',
        'skin_trouble': 'skin_trouble',
        'dissatisfaction': 'product_dissatisfaction',
        'payment': 'payment',
        'plan_change': 'plan_change',
    }) }}
{%- endmacro %}
