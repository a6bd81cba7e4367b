"""API Gateway (REST) corrections to moto 5.2.5, each as AWS documents it.

- DeleteRestApi and DeleteResource of an id that does not exist fail with
  NotFoundException (API Gateway API reference, "Errors" of each operation);
  moto raises KeyError, i.e. an internal error (HTTP 500).
- GetBasePathMapping, UpdateBasePathMapping, DeleteBasePathMapping and
  GetBasePathMappings of a domain name that has no mapping yet answer as
  for any other domain: NotFoundException for a base path it does not
  have (API Gateway API reference, GetBasePathMapping, Errors), an empty
  list; moto raises KeyError (HTTP 500) until the domain's first mapping.
  drctl meets it when a CreateBasePathMapping whose outcome is unknown
  is looked up.
- TagResource, UntagResource and GetTags accept a REST API's ARN,
  `arn:aws:apigateway:<region>::/restapis/<id>` (API Gateway API reference,
  TagResource: "The ARN of a resource that can be tagged"); moto routes and
  handles only stage ARNs.
"""

import json
from urllib.parse import unquote

REST_API_TAGS_PATH = (
    "{0}/tags/arn:(?P<partition>[^/]+):apigateway:(?P<region_name>[^/]+)"
    "::/restapis/(?P<function_id>[^/]+)$"
)


def _rest_api_id(response) -> str | None:
    """The REST API id when the tagged ARN names a REST API itself."""
    parts = unquote(response.path.split("/tags/", 1)[1]).split("?")[0].split("/")
    if len(parts) == 3 and parts[1] == "restapis":
        return parts[2]
    return None


def _deletes_need_existing() -> None:
    from moto.apigateway.models import APIGatewayBackend

    delete_rest_api = APIGatewayBackend.delete_rest_api
    delete_resource = APIGatewayBackend.delete_resource

    def checked_delete_rest_api(self, function_id):
        self.get_rest_api(function_id)  # NotFoundException when missing
        return delete_rest_api(self, function_id)

    def checked_delete_resource(self, function_id, resource_id):
        self.get_resource(function_id, resource_id)  # NotFoundException
        return delete_resource(self, function_id, resource_id)

    APIGatewayBackend.delete_rest_api = checked_delete_rest_api
    APIGatewayBackend.delete_resource = checked_delete_resource


def _mappings_of_unmapped_domains() -> None:
    from moto.apigateway.models import APIGatewayBackend

    def with_mappings(original):
        def call(self, domain_name, *args, **kwargs):
            if domain_name in self.domain_names:
                self.base_path_mappings.setdefault(domain_name, {})
            return original(self, domain_name, *args, **kwargs)

        return call

    for name in (
        "get_base_path_mapping",
        "get_base_path_mappings",
        "update_base_path_mapping",
        "delete_base_path_mapping",
    ):
        setattr(APIGatewayBackend, name, with_mappings(getattr(APIGatewayBackend, name)))


def _rest_api_tags() -> None:
    from moto.apigateway import urls
    from moto.apigateway.responses import APIGatewayResponse

    urls.url_paths[REST_API_TAGS_PATH] = APIGatewayResponse.dispatch
    tag_resource = APIGatewayResponse.tag_resource
    untag_resource = APIGatewayResponse.untag_resource
    get_tags = APIGatewayResponse.get_tags

    def tag(self):
        api_id = _rest_api_id(self)
        if api_id is None:
            return tag_resource(self)
        api = self.backend.get_rest_api(api_id)
        api.tags = {**(api.tags or {}), **(self._get_param("tags") or {})}
        return "{}"

    def untag(self):
        api_id = _rest_api_id(self)
        if api_id is None:
            return untag_resource(self)
        api = self.backend.get_rest_api(api_id)
        for key in self.querystring.get("tagKeys") or []:
            (api.tags or {}).pop(key, None)
        return "{}"

    def tags(self):
        api_id = _rest_api_id(self)
        if api_id is None:
            return get_tags(self)
        return json.dumps({"tags": self.backend.get_rest_api(api_id).tags or {}})

    APIGatewayResponse.tag_resource = tag
    APIGatewayResponse.untag_resource = untag
    APIGatewayResponse.get_tags = tags


def apply() -> None:
    _deletes_need_existing()
    _mappings_of_unmapped_domains()
    _rest_api_tags()
