from tortoise import migrations
from tortoise.migrations import operations as ops
from orjson import loads
from tortoise.fields.base import OnDelete
from tortoise.fields.data import JSON_DUMPS
from tortoise import fields

class Migration(migrations.Migration):
    initial = True

    operations = [
        ops.CreateModel(
            name='School',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('name', fields.CharField(max_length=200)),
                ('code', fields.CharField(unique=True, max_length=50)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'school', 'app': 'models', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='SchoolClass',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('school', fields.ForeignKeyField('models.School', source_field='school_id', db_constraint=True, to_field='id', related_name='classes', on_delete=OnDelete.RESTRICT)),
                ('grade', fields.SmallIntField()),
                ('name', fields.CharField(max_length=100)),
                ('school_year', fields.CharField(max_length=20)),
            ],
            options={'table': 'school_class', 'app': 'models', 'unique_together': (('school', 'school_year', 'name'),), 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='SessionEntry',
            fields=[
                ('key', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=128)),
                ('data', fields.BinaryField()),
                ('expires_at', fields.DatetimeField(null=True, db_index=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'session_entry', 'app': 'models', 'pk_attr': 'key', 'table_description': 'Server-side session data (the session store), so several workers share sessions.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Student',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('school', fields.ForeignKeyField('models.School', source_field='school_id', db_constraint=True, to_field='id', related_name='students', on_delete=OnDelete.RESTRICT)),
                ('klass', fields.ForeignKeyField('models.SchoolClass', source_field='klass_id', null=True, db_constraint=True, to_field='id', related_name='students', on_delete=OnDelete.SET_NULL)),
                ('student_number', fields.CharField(max_length=40)),
                ('name', fields.CharField(max_length=100)),
                ('gender', fields.CharField(max_length=10)),
                ('birth_date', fields.DateField(null=True)),
                ('enrolled_on', fields.DateField(null=True)),
                ('left_on', fields.DateField(null=True)),
            ],
            options={'table': 'student', 'app': 'models', 'unique_together': (('school', 'student_number'),), 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='User',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('school', fields.ForeignKeyField('models.School', source_field='school_id', db_constraint=True, to_field='id', related_name='users', on_delete=OnDelete.RESTRICT)),
                ('username', fields.CharField(unique=True, max_length=80)),
                ('display_name', fields.CharField(max_length=100)),
                ('password_hash', fields.CharField(max_length=255)),
                ('is_active', fields.BooleanField(default=True, db_default=True)),
                ('is_admin', fields.BooleanField(default=False, db_default=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'app_user', 'app': 'models', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ApiToken',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('user', fields.ForeignKeyField('models.User', source_field='user_id', db_constraint=True, to_field='id', related_name='tokens', on_delete=OnDelete.CASCADE)),
                ('token_hash', fields.CharField(unique=True, max_length=64)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('last_used_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'api_token', 'app': 'models', 'pk_attr': 'id', 'table_description': 'A bearer token for the JSON API (only its SHA-256 is stored).'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Record',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('school', fields.ForeignKeyField('models.School', source_field='school_id', db_constraint=True, to_field='id', related_name='records', on_delete=OnDelete.RESTRICT)),
                ('form_id', fields.CharField(db_index=True, max_length=64)),
                ('form_version', fields.IntField(default=1)),
                ('data', fields.JSONField(encoder=JSON_DUMPS, decoder=loads)),
                ('status', fields.CharField(default='done', max_length=16)),
                ('version', fields.IntField(default=1)),
                ('students', fields.ManyToManyField('models.Student', unique=True, db_constraint=True, through='record_student', forward_key='student_id', backward_key='record_id', related_name='records', on_delete=OnDelete.CASCADE)),
                ('created_by', fields.ForeignKeyField('models.User', source_field='created_by_id', db_constraint=True, to_field='id', related_name='records_created', on_delete=OnDelete.RESTRICT)),
                ('updated_by', fields.ForeignKeyField('models.User', source_field='updated_by_id', db_constraint=True, to_field='id', related_name='records_updated', on_delete=OnDelete.RESTRICT)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'record', 'app': 'models', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='RecordRevision',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('record', fields.ForeignKeyField('models.Record', source_field='record_id', db_constraint=True, to_field='id', related_name='revisions', on_delete=OnDelete.CASCADE)),
                ('version', fields.IntField()),
                ('action', fields.CharField(max_length=16)),
                ('data_before', fields.JSONField(null=True, encoder=JSON_DUMPS, decoder=loads)),
                ('data_after', fields.JSONField(encoder=JSON_DUMPS, decoder=loads)),
                ('diff', fields.JSONField(encoder=JSON_DUMPS, decoder=loads)),
                ('changed_by', fields.ForeignKeyField('models.User', source_field='changed_by_id', db_constraint=True, to_field='id', related_name='revisions', on_delete=OnDelete.RESTRICT)),
                ('changed_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'record_revision', 'app': 'models', 'unique_together': (('record', 'version'),), 'pk_attr': 'id', 'table_description': 'One change of a record: before, after and the field diff. Never edited or deleted by a route.'},
            bases=['Model'],
        ),
    ]
