{#- Fails on every row outside [min_value, max_value] (nulls pass). -#}
{% test between_values(model, column_name, min_value, max_value) %}

select {{ column_name }} as failing_value
from {{ model }}
where {{ column_name }} < {{ min_value }} or {{ column_name }} > {{ max_value }}

{% endtest %}
