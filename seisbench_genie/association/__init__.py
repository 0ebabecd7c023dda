"""Association: detection with the GENIE network, competitive assignment and location."""

from seisbench_genie.association.pipeline import AssociationParams, Region, associate_table

__all__ = ["AssociationParams", "Region", "associate_table"]
