{#
    Master data: each accepted delivery of a master file replaces the previous one, so only the
    rows of the latest delivery_seq are current. One rule for dealers, skus and dealer_skus.
#}
{% macro latest_delivery_rows(relation) %}
    select delivered.*
    from {{ relation }} as delivered
    where delivered.delivery_seq = (select max(delivery_seq) from {{ relation }})
{% endmacro %}
