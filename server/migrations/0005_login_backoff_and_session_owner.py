from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0004_audit_log')]

    initial = False

    operations = [
        ops.AddField(
            model_name='SessionEntry',
            name='user_id',
            field=fields.IntField(null=True, db_index=True),
        ),
        ops.AddField(
            model_name='User',
            name='failed_logins',
            field=fields.IntField(default=0, db_default=0),
        ),
        ops.AddField(
            model_name='User',
            name='locked_until',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
    ]
