from tortoise import migrations
from tortoise.migrations import operations as ops
from orjson import loads
from tortoise.fields.base import OnDelete
from tortoise.fields.data import JSON_DUMPS
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0010_print_jobs')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Disposal',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('school', fields.ForeignKeyField('models.School', source_field='school_id', db_constraint=True, to_field='id', related_name='disposals', on_delete=OnDelete.RESTRICT)),
                ('record', fields.OneToOneField('models.Record', source_field='record_id', db_constraint=True, to_field='id', related_name='disposal', on_delete=OnDelete.RESTRICT)),
                ('action', fields.CharField(max_length=12)),
                ('state', fields.CharField(default='applied', max_length=12)),
                ('applied_by', fields.ForeignKeyField('models.User', source_field='applied_by_id', db_constraint=True, to_field='id', related_name='disposals_applied', on_delete=OnDelete.RESTRICT)),
                ('applied_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('reviewed_by', fields.ForeignKeyField('models.User', source_field='reviewed_by_id', null=True, db_constraint=True, to_field='id', related_name='disposals_reviewed', on_delete=OnDelete.RESTRICT)),
                ('reviewed_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('approved_by', fields.ForeignKeyField('models.User', source_field='approved_by_id', null=True, db_constraint=True, to_field='id', related_name='disposals_approved', on_delete=OnDelete.RESTRICT)),
                ('approved_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('outcome', fields.CharField(default='', max_length=200)),
            ],
            options={'table': 'disposal', 'app': 'models', 'pk_attr': 'id', 'table_description': 'The decision of a 7.2 record (seal, destroy, transfer) on its way: applied, reviewed, approved'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='FileTombstone',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('school', fields.ForeignKeyField('models.School', source_field='school_id', db_constraint=True, to_field='id', related_name='tombstones', on_delete=OnDelete.RESTRICT)),
                ('student', fields.ForeignKeyField('models.Student', source_field='student_id', db_constraint=True, to_field='id', related_name='tombstones', on_delete=OnDelete.RESTRICT)),
                ('disposal', fields.ForeignKeyField('models.Disposal', source_field='disposal_id', db_constraint=True, to_field='id', related_name='tombstones', on_delete=OnDelete.RESTRICT)),
                ('destroyed_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('destroyed_by', fields.ForeignKeyField('models.User', source_field='destroyed_by_id', db_constraint=True, to_field='id', related_name='tombstones', on_delete=OnDelete.RESTRICT)),
                ('basis', fields.CharField(default='', max_length=1000)),
                ('categories', fields.JSONField(default=list, encoder=JSON_DUMPS, decoder=loads)),
            ],
            options={'table': 'file_tombstone', 'app': 'models', 'pk_attr': 'id', 'table_description': 'What remains of a destroyed file: who decided, when, on what basis, and which kinds of records'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='Record',
            name='sealed',
            field=fields.BooleanField(default=False, db_default=False),
        ),
        ops.AddField(
            model_name='Student',
            name='file_state',
            field=fields.CharField(default='open', db_default='open', max_length=12),
        ),
        ops.AddField(
            model_name='Student',
            name='sealed_until',
            field=fields.DateField(null=True),
        ),
    ]
