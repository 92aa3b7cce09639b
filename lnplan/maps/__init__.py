"""lnplan.maps"""
