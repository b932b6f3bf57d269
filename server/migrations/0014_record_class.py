from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0013_unsaved_work')]

    initial = False

    operations = [
        ops.AddField(
            model_name='Record',
            name='klass',
            field=fields.ForeignKeyField('models.SchoolClass', source_field='klass_id', null=True, db_constraint=True, to_field='id', related_name='records', on_delete=OnDelete.RESTRICT),
        ),
    ]
