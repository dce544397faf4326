variable "name" {
  description = "Name of the authorizer in the tenant's API."
  type        = string
  default     = "tenant-authorizer"

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,128}$", var.name))
    error_message = "name must be 1-128 letters, digits, '-' or '_'."
  }
}

variable "authorizer_function_arn" {
  description = "The alias-qualified ARN of the shared authorizer the platform team gave this account (terraform output tenants). Not needed with handoff, which carries it."
  type        = string
  default     = null

  validation {
    condition     = var.authorizer_function_arn != null || var.handoff != null
    error_message = "Set handoff (the platform's terraform output handoffs for this account and API) or authorizer_function_arn."
  }

  validation {
    condition     = var.authorizer_function_arn == null || can(regex("^arn:aws(-cn|-us-gov)?:lambda:[a-z0-9-]+:[0-9]{12}:function:[A-Za-z0-9_-]+:[A-Za-z0-9_-]+$", var.authorizer_function_arn))
    error_message = "authorizer_function_arn must be an alias-qualified Lambda ARN (arn:PARTITION:lambda:REGION:ACCOUNT:function:NAME:ALIAS): the platform grants invoke rights on the alias only."
  }
}

variable "api" {
  description = "The tenant's API: kind (REST, HTTP or WEBSOCKET) and id."
  type = object({
    kind = string
    id   = string
  })

  validation {
    condition     = contains(["REST", "HTTP", "WEBSOCKET"], var.api.kind)
    error_message = "api.kind must be REST, HTTP or WEBSOCKET."
  }

  validation {
    condition     = can(regex("^[a-z0-9]{10}$", var.api.id))
    error_message = "api.id must be a 10-character API Gateway id."
  }
}

variable "rest" {
  description = "REST API authorizer settings (api.kind = REST): TOKEN or REQUEST, identity source, result TTL, TOKEN validation expression."
  type = object({
    type                           = optional(string, "TOKEN")
    identity_source                = optional(string)
    result_ttl_seconds             = optional(number, 300)
    identity_validation_expression = optional(string)
  })
  default = {}

  validation {
    condition     = contains(["TOKEN", "REQUEST"], var.rest.type)
    error_message = "rest.type must be TOKEN or REQUEST."
  }

  validation {
    condition     = var.rest.result_ttl_seconds >= 0 && var.rest.result_ttl_seconds <= 3600 && floor(var.rest.result_ttl_seconds) == var.rest.result_ttl_seconds
    error_message = "rest.result_ttl_seconds must be a whole number of seconds from 0 to 3600."
  }

  validation {
    condition     = var.rest.identity_validation_expression == null || var.rest.type == "TOKEN"
    error_message = "rest.identity_validation_expression applies to TOKEN authorizers only."
  }

  validation {
    condition = var.rest.identity_source == null || try(
      var.rest.type == "TOKEN"
      ? can(regex("^method\\.request\\.header\\.[A-Za-z0-9!#$%&'*+.^_`|~-]+$", var.rest.identity_source))
      : alltrue([for s in split(",", var.rest.identity_source) : can(regex("^(method\\.request\\.(header|querystring)\\.[^,\\s]+|stageVariables\\.[^,\\s]+|context\\.[^,\\s]+)$", trimspace(s)))]),
      false,
    )
    error_message = "rest.identity_source must be method.request.header.NAME for TOKEN, or a comma-separated list of method.request.header/querystring.NAME, stageVariables.NAME or context.NAME for REQUEST."
  }
}

variable "http" {
  description = "HTTP API authorizer settings (api.kind = HTTP): payload format, simple responses or IAM policies, identity sources, result TTL."
  type = object({
    payload_format_version = optional(string, "2.0")
    # null: what handoff.response_type says; without handoff, a payload 2.0 HTTP API
    # must set it (true for response: simple, false for response: iam): a plan error.
    enable_simple_responses = optional(bool)
    identity_sources        = optional(list(string), ["$request.header.Authorization"])
    result_ttl_seconds      = optional(number, 300)
  })
  default = {}

  validation {
    condition     = contains(["1.0", "2.0"], var.http.payload_format_version)
    error_message = "http.payload_format_version must be 1.0 or 2.0."
  }

  validation {
    condition     = var.http.enable_simple_responses != true || var.http.payload_format_version == "2.0"
    error_message = "http.enable_simple_responses requires http.payload_format_version 2.0."
  }

  validation {
    condition     = var.http.result_ttl_seconds >= 0 && var.http.result_ttl_seconds <= 3600 && floor(var.http.result_ttl_seconds) == var.http.result_ttl_seconds
    error_message = "http.result_ttl_seconds must be a whole number of seconds from 0 to 3600."
  }

  validation {
    condition     = length(var.http.identity_sources) > 0 && alltrue([for s in var.http.identity_sources : can(regex("^\\$(request\\.(header|querystring)\\.[^,\\s]+|context\\.[^,\\s]+|stageVariables\\.[^,\\s]+)$", s))])
    error_message = "http.identity_sources must list $request.header.NAME, $request.querystring.NAME, $context.NAME or $stageVariables.NAME values."
  }
}

variable "websocket" {
  description = "WebSocket API authorizer settings (api.kind = WEBSOCKET): identity sources of the $connect request."
  type = object({
    identity_sources = optional(list(string), ["route.request.header.Authorization"])
  })
  default = {}

  validation {
    condition     = length(var.websocket.identity_sources) > 0 && alltrue([for s in var.websocket.identity_sources : can(regex("^(route\\.request\\.(header|querystring)\\.[^,\\s]+|context\\.[^,\\s]+|stageVariables\\.[^,\\s]+)$", s))])
    error_message = "websocket.identity_sources must list route.request.header.NAME, route.request.querystring.NAME, context.NAME or stageVariables.NAME values."
  }
}

variable "cors" {
  description = <<-EOT
    CORS headers added to the REST API's 401/403/500 gateway responses, so a browser can
    read them. null adds none. HTTP APIs: configure cors_configuration on the API instead
    (API Gateway then adds the headers to every response, authorizer failures included).
  EOT
  type = object({
    allow_origin      = string
    allow_headers     = optional(list(string), ["Authorization", "Content-Type"])
    allow_methods     = optional(list(string), ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
    allow_credentials = optional(bool, false)
  })
  default = null

  validation {
    condition     = var.cors == null || try(var.cors.allow_origin == "*" || can(regex("^https?://[^/\\s'\"]+$", var.cors.allow_origin)), false)
    error_message = "cors.allow_origin must be \"*\" or one origin such as https://app.example.com (scheme and host, no path)."
  }

  validation {
    condition     = var.cors == null || try(!(var.cors.allow_credentials && var.cors.allow_origin == "*"), false)
    error_message = "cors.allow_credentials cannot be used with cors.allow_origin \"*\" (browsers refuse it): name the origin."
  }
}

variable "manage_gateway_responses" {
  description = "Create the REST API's UNAUTHORIZED, ACCESS_DENIED, AUTHORIZER_FAILURE, AUTHORIZER_CONFIGURATION_ERROR, DEFAULT_4XX and DEFAULT_5XX gateway responses (one per type per API: turn off if the API already manages them)."
  type        = bool
  default     = true
}

variable "handoff" {
  description = <<-EOT
    What the platform published for this account and API (terraform/tenants output
    handoffs["ACCOUNT/API_ID"], or ["ACCOUNT/*"] for an account-wide binding): function
    ARN, authorizer URI, region, response type (iam or simple) and where the token is
    (header:NAME, query:NAME or cookie:NAME), and whether the tenant's issuers require
    bound tokens (sender_constraint, which then applies here). A mismatch with this API
    is a plan-time error naming the field, instead of an authorizer that answers 500.
  EOT
  type = object({
    function_arn      = string
    authorizer_uri    = string
    region            = string
    response_type     = string
    identity_source   = string
    sender_constraint = optional(string, "none")
  })
  default = null

  validation {
    condition     = var.handoff == null || try(contains(["iam", "simple"], var.handoff.response_type) && can(regex("^(header|query|cookie):.+$", var.handoff.identity_source)), false)
    error_message = "handoff must be the platform's hand-off: response_type iam or simple, identity_source header:NAME, query:NAME or cookie:NAME."
  }
}

variable "sender_constraint" {
  description = "The tenant's tokens are bound to the client: \"dpop\" (RFC 9449; adds the DPoP header to the identity sources) or \"mtls\" (RFC 8705; the API's custom domain needs mutual TLS). Either turns the authorizer's result cache off (a proof is good for one request) and needs a REST REQUEST or HTTP API authorizer. \"none\": what handoff.sender_constraint says, else bearer tokens (an IdP that may issue bound tokens still needs result_ttl_seconds = 0)."
  type        = string
  default     = "none"
  nullable    = false

  validation {
    condition     = contains(["none", "mtls", "dpop"], var.sender_constraint)
    error_message = "sender_constraint must be none, mtls or dpop."
  }
}
