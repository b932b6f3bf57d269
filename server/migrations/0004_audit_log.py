from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0003_roles_and_classes')]

    initial = False

    operations = [
        ops.CreateModel(
            name='AuditEntry',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=False)),
                ('request_id', fields.CharField(default='', max_length=32)),
                ('school_id', fields.IntField(null=True, db_index=True)),
                ('actor_id', fields.IntField(null=True)),
                ('actor', fields.CharField(default='', max_length=80)),
                ('roles', fields.CharField(default='', max_length=200)),
                ('action', fields.CharField(db_index=True, max_length=32)),
                ('target', fields.CharField(default='', db_index=True, max_length=100)),
                ('result', fields.CharField(default='ok', max_length=16)),
                ('detail', fields.CharField(default='', max_length=200)),
                ('prev_hash', fields.CharField(max_length=64)),
                ('hash', fields.CharField(unique=True, max_length=64)),
            ],
            options={'table': 'audit_log', 'app': 'models', 'pk_attr': 'id', 'table_description': 'One audited action (server.audit), appended and never changed, chained by hashes, with no foreign keys.'},
            bases=['Model'],
        ),
    ]
