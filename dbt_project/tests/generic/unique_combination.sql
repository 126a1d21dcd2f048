{#-
    A composite key: fails on every combination of `columns` that occurs more than once.
    Written here because no package (dbt_utils) can be downloaded at run time.
-#}
{% test unique_combination(model, columns) %}

select
    {{ columns | join(', ') }},
    count(*) as occurrences
from {{ model }}
group by {{ columns | join(', ') }}
having count(*) > 1

{% endtest %}
