from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0007_second_factor_and_school_security')]

    initial = False

    operations = [
        ops.AddField(model_name='Student', name='left_reason', field=fields.CharField(max_length=20, default="", db_default="")),
        ops.AddField(model_name='Student', name='guardian_name', field=fields.CharField(max_length=100, default="", db_default="")),
        ops.AddField(model_name='Student', name='guardian_phone', field=fields.CharField(max_length=20, default="", db_default="")),
    ]
