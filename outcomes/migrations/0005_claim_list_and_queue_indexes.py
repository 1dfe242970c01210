# The claim list's and the verification queue's indexes (docs/performance.md, "Dashboards").
# The composite index replaces the foreign key's own index on return_record_id, which it
# leads with; it is created first, so look-ups by return are never without an index.

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("outcomes", "0004_verification"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="claim",
            index=models.Index(fields=["return_record", "row_number", "id"],
                               name="claim_return_row_idx"),
        ),
        migrations.AddIndex(
            model_name="claim",
            index=models.Index(
                condition=models.Q(("status__in", ("sampled", "under_review", "queried",
                                                   "responded", "appealed"))),
                fields=["return_record", "id"], name="claim_open_idx"),
        ),
        migrations.AlterField(
            model_name="claim",
            name="return_record",
            field=models.ForeignKey(db_index=False,
                                    on_delete=django.db.models.deletion.CASCADE,
                                    related_name="claims", to="outcomes.return"),
        ),
    ]
