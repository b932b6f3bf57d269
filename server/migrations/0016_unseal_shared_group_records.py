from tortoise import migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    """A group record sealed with one student's file before issue 13 (item 3) comes back for the students whose files
    are open: it is no longer sealed, and the pages hide the sealed student's part (server/disposal.py)."""

    dependencies = [('models', '0015_print_skip_reasons')]

    initial = False

    operations = [
        ops.RunSQL(
            "UPDATE record SET sealed = FALSE WHERE sealed = TRUE"
            " AND id IN (SELECT rs.record_id FROM record_student rs JOIN student s ON s.id = rs.student_id WHERE s.file_state = 'open')"
            " AND id NOT IN (SELECT record_id FROM disposal)"
        ),
    ]
