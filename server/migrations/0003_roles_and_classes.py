"""Users hold roles (several each) and may be bound to classes; the old administrator flag becomes the admin role."""

from orjson import loads
from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.fields.data import JSON_DUMPS
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [('models', '0002_handbook_front_matter')]

    initial = False

    operations = [
        ops.AddField(
            model_name='User',
            name='classes',
            field=fields.ManyToManyField('models.SchoolClass', unique=True, db_constraint=True, through='user_class', forward_key='schoolclass_id', backward_key='app_user_id', related_name='staff', on_delete=OnDelete.CASCADE),
        ),
        ops.AddField(
            model_name='User',
            name='roles',
            field=fields.JSONField(default=list, db_default='[]', encoder=JSON_DUMPS, decoder=loads),
        ),
        # is_admin stays as a column (SQLite cannot drop it without rebuilding a table that others reference)
        ops.RunSQL("UPDATE app_user SET roles = '[\"admin\"]' WHERE is_admin"),
    ]
