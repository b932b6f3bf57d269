from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0012_form_versions')]

    initial = False

    operations = [
        ops.CreateModel(
            name='UnsavedPost',
            fields=[
                ('key', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=64)),
                ('user_id', fields.IntField(db_index=True)),
                ('school_id', fields.IntField()),
                ('target', fields.CharField(max_length=300)),
                ('data', fields.BinaryField()),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('expires_at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'unsaved_post', 'app': 'models', 'pk_attr': 'key', 'table_description': 'A save posted after its session had ended, kept for the user who opened the form.'},
            bases=['Model'],
        ),
    ]
