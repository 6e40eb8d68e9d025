"""The admin's configuration files under ``mappings/``: load, check, build.

from hub.mappings import Mappings, load_mappings, validate_mappings

m = load_mappings(Path("mappings"))      # ConfigError listing every problem as file:line
m.catalog                                # hub.domain.catalog.Catalog (intents + dispositions)
m.crm("salesforce")                      # hub.domain.mapping.CrmMapping; ConfigError if absent
m.crms                                   # configured CRM names, e.g. ("salesforce", "zendesk")
m.routing                                # hub.domain.routing.RoutingConfig, None without routing.yaml
problems = validate_mappings(Path("mappings"))   # same checks; [] when valid, never raises
"""

from hub.mappings.loader import Mappings, load_mappings, validate_mappings

__all__ = ["Mappings", "load_mappings", "validate_mappings"]
