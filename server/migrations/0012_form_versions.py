from tortoise import migrations
from tortoise.migrations import operations as ops
from orjson import loads
from tortoise.fields.base import OnDelete
from tortoise.fields.data import JSON_DUMPS
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0011_sealing_and_disposal')]

    initial = False

    operations = [
        ops.CreateModel(
            name='FormDraft',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('school', fields.ForeignKeyField('models.School', source_field='school_id', db_constraint=True, to_field='id', related_name='form_drafts', on_delete=OnDelete.RESTRICT)),
                ('form_id', fields.CharField(max_length=64)),
                ('schema', fields.JSONField(encoder=JSON_DUMPS, decoder=loads)),
                ('layout', fields.JSONField(encoder=JSON_DUMPS, decoder=loads)),
                ('based_on', fields.IntField(default=0)),
                ('origin', fields.CharField(default='edit', max_length=16)),
                ('base_hash', fields.CharField(default='', max_length=64)),
                ('note', fields.CharField(default='', max_length=200)),
                ('revision', fields.IntField(default=1)),
                ('updated_by', fields.ForeignKeyField('models.User', source_field='updated_by_id', null=True, db_constraint=True, to_field='id', related_name='form_drafts', on_delete=OnDelete.RESTRICT)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'form_draft', 'app': 'models', 'unique_together': (('school', 'form_id'),), 'pk_attr': 'id', 'table_description': "The editor's working copy of a form (one per school and form). `revision` is bumped on each"},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='FormVersion',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('school', fields.ForeignKeyField('models.School', source_field='school_id', db_constraint=True, to_field='id', related_name='form_versions', on_delete=OnDelete.RESTRICT)),
                ('form_id', fields.CharField(max_length=64)),
                ('version', fields.IntField()),
                ('schema', fields.JSONField(encoder=JSON_DUMPS, decoder=loads)),
                ('layout', fields.JSONField(encoder=JSON_DUMPS, decoder=loads)),
                ('origin', fields.CharField(max_length=16)),
                ('base_hash', fields.CharField(max_length=64)),
                ('note', fields.CharField(default='', max_length=200)),
                ('critical', fields.IntField(default=0)),
                ('published_by', fields.ForeignKeyField('models.User', source_field='published_by_id', null=True, db_constraint=True, to_field='id', related_name='form_versions', on_delete=OnDelete.RESTRICT)),
                ('published_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'form_version', 'app': 'models', 'unique_together': (('school', 'form_id', 'version'),), 'pk_attr': 'id', 'table_description': 'One published definition of a form for a school: immutable once written. Records name the'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='RecordRevision',
            name='form_version',
            field=fields.IntField(default=1, db_default=1),
        ),
    ]
