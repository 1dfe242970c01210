"""The ledger's keys to its contract and to the corrected line become checks of each statement
as a whole (ADR 0023). The triggers are installed after every migrate
(payments.ledger_checks.install), not here: SQLite drops them whenever it rebuilds the table."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('contracts', '0001_initial'),
        ('payments', '0008_refusals_lz4'),
    ]

    operations = [
        migrations.AlterField(
            model_name='ledgerline',
            name='contract',
            field=models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='ledger_lines', to='contracts.contract'),
        ),
        migrations.AlterField(
            model_name='ledgerline',
            name='corrects',
            field=models.ForeignKey(blank=True, db_constraint=False, db_index=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='corrections', to='payments.ledgerline'),
        ),
    ]
