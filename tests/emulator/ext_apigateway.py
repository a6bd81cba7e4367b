"""API Gateway (REST) corrections to moto 5.2.5, each as AWS documents it.

- DeleteRestApi and DeleteResource of an id that does not exist fail with
  NotFoundException (API Gateway API reference, "Errors" of each operation);
  moto raises KeyError, i.e. an internal error (HTTP 500). So do
  DeleteIntegrationResponse and DeleteMethodResponse of a status code the
  integration or method does not have (a PutIntegration drops the
  integration's responses, API Gateway API reference, PutIntegration);
  moto answers them with an internal error (it serialises the None it
  finds).
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
- DeleteRestApi is limited to one request every 30 seconds per account, a
  fixed quota that cannot be increased (API Gateway Developer Guide,
  "Amazon API Gateway quotas", "API Gateway quotas for creating, deploying
  and managing an API"); a call over it fails with TooManyRequestsException
  (HTTP 429, with Retry-After; API Gateway API reference, DeleteRestApi,
  Errors) before the API is looked at. A refused call does not count; one
  let through does, even for an id that does not exist. moto 5.2.5 has no
  limit. The suite runs many environments against one server, so the
  window here is DRCTL_EMU_APIGATEWAY_DELETE_REST_API_SECONDS (default 3 s,
  AWS's is 30 s), per account across the server's regions (the quota says
  per account).
"""

import json
import math
import os
import threading
import time
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
    from moto.apigateway.exceptions import NoIntegrationResponseDefined
    from moto.apigateway.models import APIGatewayBackend

    delete_rest_api = APIGatewayBackend.delete_rest_api
    delete_resource = APIGatewayBackend.delete_resource

    def checked_delete_rest_api(self, function_id):
        self.get_rest_api(function_id)  # NotFoundException when missing
        return delete_rest_api(self, function_id)

    def checked_delete_resource(self, function_id, resource_id):
        self.get_resource(function_id, resource_id)  # NotFoundException
        return delete_resource(self, function_id, resource_id)

    delete_integration_response = APIGatewayBackend.delete_integration_response
    delete_method_response = APIGatewayBackend.delete_method_response

    def checked_delete_integration_response(self, function_id, resource_id, method, status):
        # NotFoundException ("Invalid Response status code specified")
        self.get_integration_response(function_id, resource_id, method, status)
        return delete_integration_response(self, function_id, resource_id, method, status)

    def checked_delete_method_response(self, function_id, resource_id, method, status):
        if self.get_method_response(function_id, resource_id, method, status) is None:
            raise NoIntegrationResponseDefined()  # the same NotFoundException
        return delete_method_response(self, function_id, resource_id, method, status)

    APIGatewayBackend.delete_rest_api = checked_delete_rest_api
    APIGatewayBackend.delete_resource = checked_delete_resource
    APIGatewayBackend.delete_integration_response = checked_delete_integration_response
    APIGatewayBackend.delete_method_response = checked_delete_method_response


_DELETE_LOCK = threading.Lock()
# account id -> monotonic time of its last DeleteRestApi that was let through
_LAST_DELETE: dict[str, float] = {}


def _delete_rest_api_quota() -> None:
    from moto.apigateway.exceptions import ApiGatewayException
    from moto.apigateway.models import APIGatewayBackend

    class TooManyRequestsException(ApiGatewayException):
        code = 429

        def __init__(self, retry_after: float):
            super().__init__("TooManyRequestsException", "Too Many Requests")
            self.retry_after = str(max(1, math.ceil(retry_after)))

        def get_headers(self, *args, **kwargs):
            return [*super().get_headers(*args, **kwargs), ("Retry-After", self.retry_after)]

    delete_rest_api = APIGatewayBackend.delete_rest_api

    def throttled_delete_rest_api(self, function_id):
        window = float(os.environ.get("DRCTL_EMU_APIGATEWAY_DELETE_REST_API_SECONDS", "3"))
        now = time.monotonic()
        with _DELETE_LOCK:
            last = _LAST_DELETE.get(self.account_id)
            if last is not None and now - last < window:
                raise TooManyRequestsException(window - (now - last))
            _LAST_DELETE[self.account_id] = now
        return delete_rest_api(self, function_id)

    APIGatewayBackend.delete_rest_api = throttled_delete_rest_api


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
    _delete_rest_api_quota()
    _mappings_of_unmapped_domains()
    _rest_api_tags()
    _integration_responses_need_method_responses()


def _integration_responses_need_method_responses() -> None:
    """PutIntegrationResponse of a status code the method has no method
    response for fails with NotFoundException "Invalid Response status code
    specified": an integration response maps the integration's answer to
    one of the method's responses, which must exist first (API Gateway API
    reference, PutIntegrationResponse `statusCode`: "Specifies the status
    code that is used to map the integration response to an existing
    MethodResponse"; AWS's exact message here is not documented, this is
    the one moto gives a missing integration). moto 5.2.5 needs the
    integration only."""
    from moto.apigateway.exceptions import NoIntegrationResponseDefined
    from moto.apigateway.models import APIGatewayBackend

    put_integration_response = APIGatewayBackend.put_integration_response

    def checked_put_integration_response(
        self, function_id, resource_id, method_type, status_code, *args, **kwargs
    ):
        method = self.get_method(function_id, resource_id, method_type)
        if method.get_response(status_code) is None:
            raise NoIntegrationResponseDefined()
        return put_integration_response(
            self, function_id, resource_id, method_type, status_code, *args, **kwargs
        )

    APIGatewayBackend.put_integration_response = checked_put_integration_response
