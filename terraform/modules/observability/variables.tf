variable "function_name" {
  description = "Name of the shared authorizer function (the metrics' FunctionName dimension)."
  type        = string
}

variable "log_group_name" {
  description = "Log group of the function, where the decision lines are."
  type        = string
}

variable "metrics_namespace" {
  description = "CloudWatch namespace of the decision metrics (runtime_settings.metrics_namespace)."
  type        = string
  default     = "TenantAuthorizer"
}

variable "region" {
  description = "Region the dashboard's widgets read."
  type        = string
}

variable "saved_queries" {
  description = "Save the runbooks' Logs Insights queries (queries.json). Off where the API is missing (moto)."
  type        = bool
  default     = true
}

variable "insight_rules" {
  description = "Create the Contributor Insights rules (insight_rules.json): top tenants by denials and faults, top reasons per tenant. Each rule is billed per matched log event."
  type        = bool
  default     = true
}

variable "tags" {
  description = "Tags added to the rules."
  type        = map(string)
  default     = {}
}
