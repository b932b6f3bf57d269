from tortoise import migrations
from tortoise.migrations import operations as ops
from orjson import loads
from tortoise.fields.base import OnDelete
from tortoise.fields.data import JSON_DUMPS
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0009_second_factor_attempts')]

    initial = False

    operations = [
        ops.CreateModel(
            name='PrintJob',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('school', fields.ForeignKeyField('models.School', source_field='school_id', db_constraint=True, to_field='id', related_name='print_jobs', on_delete=OnDelete.RESTRICT)),
                ('owner', fields.ForeignKeyField('models.User', source_field='owner_id', db_constraint=True, to_field='id', related_name='print_jobs', null=True, on_delete=OnDelete.RESTRICT)),
                ('title', fields.CharField(max_length=200)),
                ('form_id', fields.CharField(default='', max_length=64)),
                ('student_ids', fields.JSONField(default=list, encoder=JSON_DUMPS, decoder=loads)),
                ('bundle', fields.CharField(default='pdf', max_length=8)),
                ('status', fields.CharField(default='queued', max_length=16)),
                ('total', fields.IntField(default=0)),
                ('done', fields.IntField(default=0)),
                ('pages', fields.IntField(default=0)),
                ('skipped', fields.IntField(default=0)),
                ('error', fields.CharField(default='', max_length=200)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('finished_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('expires_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'print_job', 'app': 'models', 'pk_attr': 'id', 'table_description': "A batch print (a class's files, chosen students, or one form for a class) made in the background."},
            bases=['Model'],
        ),
    ]
