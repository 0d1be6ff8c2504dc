from django.core.management.base import BaseCommand, CommandError

from tideover.core.errors import DomainError
from tideover.core.models import Store, TokenScope
from tideover.core.services import create_api_token


class Command(BaseCommand):
    help = "Make a scoped API token. The secret is printed once; only its hash is stored."

    def add_arguments(self, parser):
        parser.add_argument("name", help="Who uses it, e.g. 'store S0042 agent' or 'monitoring'")
        parser.add_argument(
            "--scope",
            action="append",
            dest="scopes",
            default=[],
            help=f"Repeat for each scope: {', '.join(TokenScope.values)}",
        )
        parser.add_argument(
            "--store", help="Store code: the token may act only for this store (agents)"
        )

    def handle(self, *args, name, scopes, store, **options):
        store_obj = None
        if store:
            store_obj = Store.objects.filter(code=store).first()
            if store_obj is None:
                raise CommandError(f"No store with code {store!r}")
        try:
            token, secret = create_api_token(name=name, scopes=scopes, store=store_obj)
        except DomainError as exc:
            raise CommandError(exc.message)
        self.stdout.write(f"Token {token.prefix} for {token.name} ({', '.join(token.scopes)})")
        self.stdout.write("Send it as 'Authorization: Bearer <secret>'. It is shown only now:")
        self.stdout.write(secret)
