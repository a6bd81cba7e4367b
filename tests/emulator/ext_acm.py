"""ACM certificates, and API Gateway custom domain names that use them, as
AWS documents them. moto 5.2.5 issues a DNS-validated certificate 60 s
after the request whether or not its validation record exists, shows the
record at once, deletes a certificate in use, and lets API Gateway take any
certificate ARN and create a domain name that exists.

- A certificate requested with DNS validation stays PENDING_VALIDATION
  until the CNAME record of its DomainValidationOptions exists in DNS; ACM
  then issues it (ACM User Guide, "DNS validation": "ACM ... issues the
  certificate after it finds the CNAME record"). ACM looks the record up in
  public DNS, which reaches a hosted zone only through its delegation: the
  registrar of its domain, or an NS record in its parent domain's zone,
  lists the zone's name servers (Route 53 Developer Guide, "Making Amazon
  Route 53 the DNS service for an existing domain" and "Creating a
  subdomain that uses Amazon Route 53 as the DNS service without migrating
  the parent domain"). Here: once a zone public DNS reaches (ext_route53.py,
  `public_dns_holds`: a registered domain's zone, or one delegated from a
  reachable parent zone) holds a CNAME record set with that name and value;
  a record in a zone nothing delegates to leaves the certificate
  PENDING_VALIDATION (AWS fails it after 72 hours, which is not modelled).
  A domain's ValidationStatus is PENDING_VALIDATION until then, SUCCESS
  after.
- The validation record appears in DescribeCertificate some time after
  RequestCertificate (ACM API Reference, DescribeCertificate /
  DomainValidation: "ResourceRecord ... Contains the CNAME record that you
  add to your DNS database for domain validation"; the AWS CLI user guide's
  request example waits before describing). Here: one second after the
  request.
- DeleteCertificate of a certificate associated with another AWS service
  fails with ResourceInUseException (ACM API Reference, DeleteCertificate:
  "You cannot delete an ACM certificate that is being used by another AWS
  service"); here: used by an API Gateway domain name of its region.
  DescribeCertificate's InUseBy lists those domain names' ARNs.
- CreateDomainName needs an issued ACM certificate of the domain's region
  (API Gateway Developer Guide, "Custom domain names for public REST APIs":
  the certificate must be issued before the domain name uses it), and
  refuses a name that exists in the region with BadRequestException ("The
  domain name you provided already exists."); moto replaced the domain.
"""

import time

RECORD_DELAY_SECONDS = 1.0


def _validation_record_exists(account_id: str, name: str, value: str) -> bool:
    from ext_route53 import public_dns_holds

    return public_dns_holds(account_id, name, "CNAME", value)


def _domains_using(account_id: str, region: str, arn: str) -> list[str]:
    from moto.apigateway.models import apigateway_backends

    backend = apigateway_backends[account_id][region]
    return [
        f"arn:aws:apigateway:{region}::/domainnames/{name}"
        for name, domain in backend.domain_names.items()
        if arn in (domain.regional_certificate_arn, domain.certificate_arn)
    ]


def apply() -> None:
    from moto.acm.models import AWSCertificateManagerBackend, CertBundle
    from moto.apigateway.exceptions import BadRequestException
    from moto.apigateway.models import APIGatewayBackend
    from moto.core.exceptions import AWSError

    class ResourceInUseException(AWSError):
        TYPE = "ResourceInUseException"

    original_describe = CertBundle.describe

    def check(self) -> None:
        # Issued when its validation record is in DNS, not on a timer.
        if self.type != "AMAZON_ISSUED" or self.status != "PENDING_VALIDATION":
            return
        record = original_describe(self)["Certificate"].get("DomainValidationOptions") or []
        for option in record:
            rr = option.get("ResourceRecord") or {}
            if not _validation_record_exists(self._drctl_account, rr.get("Name", ""), rr.get("Value", "")):
                return
        if record:
            self.status = "ISSUED"

    def describe(self):
        result = original_describe(self)
        cert = result["Certificate"]
        cert["InUseBy"] = _domains_using(self._drctl_account, self._drctl_region, self.arn)
        if self.type == "AMAZON_ISSUED" and self.status == "PENDING_VALIDATION":
            young = time.time() - self._drctl_requested < RECORD_DELAY_SECONDS
            for option in cert.get("DomainValidationOptions") or []:
                option["ValidationStatus"] = "PENDING_VALIDATION"
                if young:
                    option.pop("ResourceRecord", None)
            if "IssuedAt" in cert:
                del cert["IssuedAt"]
        return result

    original_init = CertBundle.__init__

    def init(self, *args, **kwargs):
        original_init(self, *args, **kwargs)
        self._drctl_requested = time.time()
        self._drctl_account = kwargs.get("account_id") or args[0]
        self._drctl_region = kwargs.get("region", "us-east-1")

    CertBundle.__init__ = init
    CertBundle.check = check
    CertBundle.describe = describe

    original_delete = AWSCertificateManagerBackend.delete_certificate

    def delete_certificate(self, arn: str) -> None:
        if arn in self._certificates and _domains_using(self.account_id, self.region_name, arn):
            raise ResourceInUseException(
                message=f"Certificate {arn} is in use by another AWS service"
            )
        original_delete(self, arn)

    AWSCertificateManagerBackend.delete_certificate = delete_certificate

    original_create_domain = APIGatewayBackend.create_domain_name

    def create_domain_name(self, domain_name, *args, **kwargs):
        from moto.acm.models import acm_backends

        if domain_name in self.domain_names:
            raise BadRequestException("The domain name you provided already exists.")
        names = original_create_domain.__code__.co_varnames[2 : 2 + len(args)]
        given = dict(zip(names, args), **kwargs)
        for key in ("regional_certificate_arn", "certificate_arn"):
            arn = given.get(key)
            if not arn:
                continue
            certs = acm_backends[self.account_id][self.region_name]._certificates
            cert = certs.get(arn)
            if cert is not None:
                cert.check()
            if cert is None or cert.status != "ISSUED":
                raise BadRequestException(
                    f"Certificate {arn} in account {self.account_id} is not ISSUED in {self.region_name}"
                )
        return original_create_domain(self, domain_name, *args, **kwargs)

    APIGatewayBackend.create_domain_name = create_domain_name
