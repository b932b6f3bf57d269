from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0008_roster_fields')]

    initial = False

    operations = [
        ops.AddField(model_name='User', name='totp_failures', field=fields.IntField(default=0, db_default=0)),
        ops.AddField(model_name='User', name='totp_locked_until', field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
    ]
