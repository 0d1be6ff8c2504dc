from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from tideover.core.models import StaffProfile, Store
from tideover.core.roles import Role
from tideover.core.services import grant_role


class Command(BaseCommand):
    help = "Make (or update) a staff login and give it one or more roles."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument(
            "--role", action="append", default=[], help=f"One of: {', '.join(Role.values)}"
        )
        parser.add_argument(
            "--password", help="Set this password (otherwise asked, or left unchanged)"
        )
        parser.add_argument("--email", default="")
        parser.add_argument("--store", help="Store code for store associates and managers")

    def handle(self, *args, username, role, password, email, store, **options):
        unknown = [r for r in role if r not in Role.values]
        if unknown:
            raise CommandError(
                f"Unknown role(s) {', '.join(unknown)}; choose from {', '.join(Role.values)}"
            )
        store_obj = None
        if store:
            store_obj = Store.objects.filter(code=store).first()
            if store_obj is None:
                raise CommandError(f"No store with code {store!r}")
        user, created = get_user_model().objects.get_or_create(
            username=username, defaults={"email": email}
        )
        if password:
            user.set_password(password)
        elif created:
            user.set_unusable_password()
        user.is_staff = Role.ADMINISTRATOR in role or user.is_staff
        user.save()
        for name in role:
            grant_role(user, Role(name))
        if store_obj is not None:
            StaffProfile.objects.update_or_create(user=user, defaults={"store": store_obj})
        self.stdout.write(
            f"{'Created' if created else 'Updated'} {username}: {', '.join(role) or 'no new roles'}"
        )
