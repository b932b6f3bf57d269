from tortoise import migrations
from tortoise.migrations import operations as ops
from orjson import loads
from tortoise.fields.data import JSON_DUMPS
from tortoise import fields


class Migration(migrations.Migration):
    """A batch print names the students it left out and why (issue 13, item 12)."""

    dependencies = [('models', '0014_record_class')]

    initial = False

    operations = [
        ops.AddField(
            model_name='PrintJob',
            name='skipped_students',
            field=fields.JSONField(null=True, encoder=JSON_DUMPS, decoder=loads),
        ),
    ]
