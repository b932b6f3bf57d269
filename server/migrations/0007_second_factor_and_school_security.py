from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0006_initial_passwords')]

    initial = False

    operations = [
        ops.AddField(model_name='School', name='totp_roles', field=fields.JSONField(default=list, db_default="[]")),
        ops.AddField(model_name='School', name='require_agreement', field=fields.BooleanField(default=False, db_default=False)),
        ops.AddField(model_name='School', name='risk_levels', field=fields.JSONField(default=list, db_default="[]")),
        ops.AddField(model_name='User', name='totp_secret', field=fields.CharField(max_length=64, null=True)),
        ops.AddField(model_name='User', name='totp_last_step', field=fields.BigIntField(null=True)),
        ops.AddField(model_name='ApiToken', name='expires_at', field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
    ]
