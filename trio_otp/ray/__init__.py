"""Ray actors as supervised children: Ray places, transports and detects failures;
trio_otp decides restarts with OTP's rules (``pip install 'trio_otp[ray]'``).

Importing this module does not import Ray; starting an actor does. See
:doc:`/beyond_one_machine`.
"""

from ._actor import ActorClient as ActorClient
from ._actor import ActorRef as ActorRef
from ._actor import ActorStartTimeout as ActorStartTimeout
from ._actor import actor_spec as actor_spec
from ._actor import end_actor as end_actor
from ._bridge import wait_object_ref as wait_object_ref

__all__ = ["ActorClient", "ActorRef", "ActorStartTimeout", "actor_spec", "end_actor", "wait_object_ref"]


def _claim_public_module() -> None:
    for name in __all__:
        value = globals()[name]
        if isinstance(value, type):
            value.__module__ = "trio_otp.ray"


_claim_public_module()
